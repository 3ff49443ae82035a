// Danish names of the API's enum values.

export const OFFENCE: Record<string, string> = {
  OFFENCE_DRUNK: "Spirituskørsel",
  OFFENCE_DRUG: "Narkokørsel",
  OFFENCE_BOTH: "Spiritus- og narkokørsel",
};

export const STATUS: Record<string, string> = {
  REFERRAL_STATUS_RECEIVED: "Modtaget",
  REFERRAL_STATUS_ROUTED: "Ny",
  REFERRAL_STATUS_DELIVERED: "Leveret",
  REFERRAL_STATUS_ACKNOWLEDGED: "Kvitteret",
  REFERRAL_STATUS_CONTACT_ATTEMPTED: "Kontakt forsøgt",
  REFERRAL_STATUS_REACHED: "Kontakt opnået",
  REFERRAL_STATUS_CONVERSATION_HELD: "Samtale holdt",
  REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED: "Forløb aftalt",
  REFERRAL_STATUS_CLOSED: "Afsluttet",
  REFERRAL_STATUS_DECLINED: "Takket nej",
  REFERRAL_STATUS_UNREACHABLE: "Ikke opnåelig",
  REFERRAL_STATUS_WITHDRAWN: "Samtykke trukket tilbage",
  REFERRAL_STATUS_UNROUTABLE: "Uden center",
  REFERRAL_STATUS_EXPIRED: "Udløbet",
};

export function statusLabel(s: string | undefined): string {
  return (s && STATUS[s]) || "Ukendt";
}

export function offenceLabel(o: string | undefined): string {
  return (o && OFFENCE[o]) || "";
}
