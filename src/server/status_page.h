// GET /ui (and GET / from a browser asking for HTML): the status page. One
// self-contained HTML document (inline CSS and JavaScript, nothing fetched
// from elsewhere) that polls /v1/lanes and shows each lane's state, queue,
// busy slots and tokens/s, and the memory map as a stacked bar (reserves,
// services, resident lanes, free; paused lanes hatched).
#pragma once

#include <string_view>

namespace laneway::server {

std::string_view status_page_html();

}  // namespace laneway::server
