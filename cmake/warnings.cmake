# laneway_warnings(target): the project's warning set, applied to our own targets only.
function(laneway_warnings target)
  # GCC 12 warns -Wrestrict inside libstdc++'s char_traits::copy for
  # `"literal" + std::string(...)` (a false positive, GCC bug 105329, fixed
  # in GCC 13): off for GCC before 13 only.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wnon-virtual-dtor -Wno-missing-field-initializers
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
  if(LANEWAY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# laneway_library(name SOURCES... DEPS...): a module library rooted at src/.
function(laneway_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  laneway_warnings(${name})
endfunction()
