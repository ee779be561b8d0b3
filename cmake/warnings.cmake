# Warnings live on an INTERFACE target that every shopmirror target links
# privately, so they never leak to consumers. They become errors only when
# shopmirror is the top-level project.
#
# GCC 12 reports "potential null pointer dereference" inside Asio's
# scheduler and libstdc++ once they are inlined into our code, and a
# "mismatched new/delete" on every Asio coroutine frame (Asio allocates and
# frees frames with its own matching operators). Targets built on Asio set
# the property SHOPMIRROR_ASIO and skip those two warnings.
add_library(shopmirror_warnings INTERFACE)
target_compile_options(shopmirror_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  $<IF:$<BOOL:$<TARGET_PROPERTY:SHOPMIRROR_ASIO>>,-Wno-null-dereference;-Wno-mismatched-new-delete,-Wnull-dereference>
  $<$<BOOL:${PROJECT_IS_TOP_LEVEL}>:-Werror>)
