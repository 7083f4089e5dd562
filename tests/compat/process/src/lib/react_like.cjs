// A CommonJS module shaped like React's entry point: it picks a build by process.env.NODE_ENV at
// load time, so merely importing it throws when `process` is not defined.
if (process.env.NODE_ENV === "production") {
  module.exports = { build: "production", nodeEnv: process.env.NODE_ENV };
} else {
  module.exports = { build: "development", nodeEnv: process.env.NODE_ENV ?? null };
}
