// Package migrations embeds the SQL schema migrations (goose format) so the
// single cartograph binary can apply them with `cartograph migrate`.
package migrations

import "embed"

// FS holds every *.sql migration in this directory, applied in version order.
//
//go:embed *.sql
var FS embed.FS
