// Version and error helpers of the C ABI. Shims only convert and call.
#include "pushwire/pushwire.h"

extern "C" {

uint32_t pushwire_version_num(void) noexcept { return PUSHWIRE_VERSION_NUM; }

const char *pushwire_version_string(void) noexcept { return PUSHWIRE_VERSION_STRING; }

const char *pushwire_strerror(int code) noexcept {
  switch (code) {
#define PUSHWIRE__STRERROR(name, value, message) \
  case (value):                                  \
    return message;
    PUSHWIRE_ERROR_LIST(PUSHWIRE__STRERROR)
#undef PUSHWIRE__STRERROR
    default:
      return "unknown error";
  }
}

const char *pushwire_error_name(int code) noexcept {
  switch (code) {
#define PUSHWIRE__ERRNAME(name, value, message) \
  case (value):                                 \
    return #name;
    PUSHWIRE_ERROR_LIST(PUSHWIRE__ERRNAME)
#undef PUSHWIRE__ERRNAME
    default:
      return "UNKNOWN";
  }
}

bool pushwire_error_is_fatal(int code) noexcept { return code <= -900 && code >= -999; }
bool pushwire_error_is_remote(int code) noexcept { return code <= -200 && code >= -299; }
bool pushwire_error_is_local(int code) noexcept { return code <= -100 && code >= -199; }

}  // extern "C"
