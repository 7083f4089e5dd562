// A CommonJS module: the bundler wraps it so that an ES import gets module.exports.
module.exports = { greet: (name) => `hi ${name} from cjs` };
