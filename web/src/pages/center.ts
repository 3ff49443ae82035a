import { h } from "../dom";
import type { Page } from "../router";

const page: Page = {
  path: "/center",
  role: "centre",
  title: "Rusmiddelcenter",
  render(main) {
    main.append(h("h1", {}, "Rusmiddelcenter"));
  },
};
export default page;
