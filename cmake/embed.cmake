# Turns the JS runtime bundle into a C++ source file: partyd::api::kRuntimeBundle.
file(READ ${IN} content HEX)
string(LENGTH "${content}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "// Generated from the runtime bundle by cmake/embed.cmake. Do not edit.\n"
  "#include <cstddef>\nnamespace partyd::api {\nextern const char kRuntimeBundle[];\n"
  "extern const std::size_t kRuntimeBundleSize;\nconst char kRuntimeBundle[] = {${bytes} 0};\n"
  "const std::size_t kRuntimeBundleSize = ${len};\n}\n")
