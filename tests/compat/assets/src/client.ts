// The browser entry that `serve.build` bundles into public/dist/client.js.
import { greeting } from "./greeting";

document.title = greeting;
