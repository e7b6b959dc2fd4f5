# Every third-party dependency is a Debian package installed by scripts/setup.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)  # serve's log: startup summary and access lines
find_package(CLI11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_library(UTF8PROC_LIBRARY NAMES utf8proc REQUIRED)
find_path(UTF8PROC_INCLUDE_DIR NAMES utf8proc.h REQUIRED)
add_library(laneway_utf8proc INTERFACE)
target_link_libraries(laneway_utf8proc INTERFACE ${UTF8PROC_LIBRARY})
target_include_directories(laneway_utf8proc INTERFACE ${UTF8PROC_INCLUDE_DIR})
if(CMAKE_CROSSCOMPILING)
  find_package(yaml-cpp QUIET)
else()
  find_package(yaml-cpp REQUIRED)
endif()
if(NOT TARGET yaml-cpp)
  # Cross builds: Debian's libyaml-cpp-dev is not co-installable across
  # architectures (installing it for arm64 removes the native one), so
  # scripts/setup --arm64 installs only the target's runtime library
  # (libyaml-cpp0.7:arm64, multiarch) and the native headers serve both.
  find_library(LANEWAY_YAML_CPP_LIBRARY NAMES yaml-cpp libyaml-cpp.so.0.7 REQUIRED)
  find_path(LANEWAY_YAML_CPP_INCLUDE_DIR NAMES yaml-cpp/yaml.h REQUIRED)
  add_library(yaml-cpp UNKNOWN IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES
    IMPORTED_LOCATION ${LANEWAY_YAML_CPP_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${LANEWAY_YAML_CPP_INCLUDE_DIR})
endif()
if(LANEWAY_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(LANEWAY_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
