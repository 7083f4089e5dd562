# Turns a file into a C++ source file that defines partyd::api::<NAME> (its bytes, followed by a
# NUL that the size leaves out) and <NAME>Size: the JS runtime bundle (kRuntimeBundle, the
# default), HTMLRewriter's script and its WebAssembly (CMakeLists.txt). TYPE is the element type:
# char for text, unsigned char for binary (whose bytes above 0x7f a char cannot hold).
if(NOT NAME)
  set(NAME kRuntimeBundle)
endif()
if(NOT TYPE)
  set(TYPE char)
endif()
file(READ ${IN} content HEX)
string(LENGTH "${content}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "// Generated from ${IN} by cmake/embed.cmake. Do not edit.\n"
  "#include <cstddef>\nnamespace partyd::api {\nextern const ${TYPE} ${NAME}[];\n"
  "extern const std::size_t ${NAME}Size;\nconst ${TYPE} ${NAME}[] = {${bytes} 0};\n"
  "const std::size_t ${NAME}Size = ${len};\n}\n")
