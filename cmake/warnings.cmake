# laneway_warnings(target): the project's warning set, applied to our own targets only.
function(laneway_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wnon-virtual-dtor -Wno-missing-field-initializers
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
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
