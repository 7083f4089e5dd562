// The test rewrites this file while the dev server runs (in a copy of the project).
export const message = "v1";
