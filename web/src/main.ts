import { start } from "./router";

start();
