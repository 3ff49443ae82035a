import { h } from "../dom";
import type { Page } from "../router";

const page: Page = {
  path: "/betjent",
  role: "officer",
  title: "Betjent",
  render(main) {
    main.append(h("h1", {}, "Betjent"));
  },
};
export default page;
