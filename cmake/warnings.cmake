# Warnings live on an INTERFACE target that every shopmirror target links
# privately, so they never leak to consumers. They become errors only when
# shopmirror is the top-level project.
#
# Two of the house warnings are left out with GCC 12, for false positives in
# code that is not ours: -Wnull-dereference fires inside libstdc++'s string
# and streambuf and inside Asio's scheduler once they are inlined, and
# -Wmismatched-new-delete fires on every Asio coroutine frame (Asio frees
# frames with its own matching operators). Targets built on Asio set the
# property SHOPMIRROR_ASIO for the second.
add_library(shopmirror_warnings INTERFACE)
target_compile_options(shopmirror_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  $<$<BOOL:$<TARGET_PROPERTY:SHOPMIRROR_ASIO>>:-Wno-mismatched-new-delete>
  $<$<BOOL:${PROJECT_IS_TOP_LEVEL}>:-Werror>)
