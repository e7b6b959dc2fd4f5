# Cross build for aarch64 (ARM64) Linux with Debian's g++-aarch64-linux-gnu and
# the libraries installed as :arm64 through multiarch (`scripts/setup --arm64`).
# Used by the `arm64-cross` preset. Tests run under qemu-aarch64-static
# (Debian qemu-user-static); set QEMU_CPU (max, cortex-a53, ...) to pick the
# emulated CPU (.ci/arm64 runs both).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: arm64 libraries live in /usr/lib/aarch64-linux-gnu, beside the
# native ones; headers in /usr/include and /usr/include/aarch64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Programs (glslc, pkg-config) run on the build machine; libraries, headers
# and CMake package files come from the arm64 multiarch paths only.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(PKG_CONFIG_EXECUTABLE /usr/bin/pkg-config CACHE FILEPATH "")

# ctest and gtest_discover_tests run the test binaries through the emulator.
find_program(LANEWAY_QEMU_AARCH64 qemu-aarch64-static)
if(LANEWAY_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LANEWAY_QEMU_AARCH64})
endif()
