# Script mode, run by mercato_embed: IN, OUT, SYMBOL. The bytes become a string literal
# of \xNN escapes (every byte escaped, so no escape can swallow the next character).
file(READ ${IN} content HEX)
if(IN MATCHES "\\.json$")
  file(READ ${IN} text)
  string(JSON ignored ERROR_VARIABLE err TYPE "${text}")
  if(err)
    message(FATAL_ERROR "${IN} is not valid JSON: ${err}")
  endif()
endif()
string(LENGTH "${content}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${content}")
# 64 bytes (256 characters of escapes) per source line
string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){64})" "\\1\"\n\"" escaped "${escaped}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
  "const char ${SYMBOL}[] =\n\"${escaped}\";\nconst size_t ${SYMBOL}_len = ${len};\n")
