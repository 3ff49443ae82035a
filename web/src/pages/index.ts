// The routing table: one line per role page (web/README.md). A page module
// default-exports a Page (router.ts) with its path, role, title and render().

import type { Page } from "../router";
import betjent from "./betjent";
import center from "./center";
import evaluering from "./evaluering";
import kommune from "./kommune";
import koordinator from "./koordinator";

export const pages: Page[] = [
  betjent,
  center,
  kommune,
  koordinator,
  evaluering,
];
