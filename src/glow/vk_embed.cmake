# Embeds one SPIR-V file as a C array: cmake -DSPV=x.spv -DNAME=x -DOUT=x.c -P vk_embed.cmake
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR words "${n} / 8")
# SPIR-V is a stream of little-endian 32-bit words: bytes b0 b1 b2 b3 -> 0xb3b2b1b0
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," body "${hex}")
string(REGEX REPLACE "(0x........u,0x........u,0x........u,0x........u,0x........u,0x........u,0x........u,0x........u,)" "\\1\n" body "${body}")
file(WRITE ${OUT}.tmp "/* generated from ${NAME}.spv by vk_embed.cmake */\n#include <stddef.h>\n#include <stdint.h>\nconst uint32_t glow_spv_${NAME}[] = {\n${body}};\nconst size_t glow_spv_${NAME}_size = ${words} * 4;\n")
file(RENAME ${OUT}.tmp ${OUT})
