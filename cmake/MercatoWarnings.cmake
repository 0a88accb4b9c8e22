# mercato_strict(target): the warning set every target of ours builds with.
function(mercato_strict target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter -Wvla)
endfunction()
