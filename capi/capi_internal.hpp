// Handle structs that more than one capi/*.cpp needs to see inside (never installed).
// pushwire_sse_request_check reads the HttpHead of a pushwire_http_request.
#pragma once

#include "alloc.hpp"
#include "http_head.hpp"

struct pushwire_http_request {
  explicit pushwire_http_request(const pushwire_allocator *a)
      : alloc(a), head(&alloc, pushwire::HttpHead::Kind::Request) {}
  pushwire::Allocator alloc;  // declared first: `head` keeps a pointer to it
  pushwire::HttpHead head;
};
