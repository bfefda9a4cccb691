// Helper for .ci/bench.sh; a separate module (stdlib and a websocket client) so the main module
// never sees it.
module benchtool

go 1.26

require github.com/coder/websocket v1.8.15
