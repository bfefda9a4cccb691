// Helper for .ci/bench.sh; a separate module (stdlib only) so the main module
// never sees it.
module benchtool

go 1.26
