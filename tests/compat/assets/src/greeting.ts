export const greeting = "built by serve.build";
