package pg_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"cartograph/internal/apperr"
	"cartograph/internal/pg"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestMapErrorHidesInternals(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code apperr.Code
	}{
		{"ErrConflict", &pgconn.PgError{Code: "23505", ConstraintName: "customers_email_idx", TableName: "customers", Message: "duplicate key value violates unique constraint"}, apperr.Conflict},
		{"ErrNotFound", &pgconn.PgError{Code: "23503", ConstraintName: "orders_shop_id_fkey", TableName: "orders"}, apperr.NotFound},
		{"ErrBadUserInput", &pgconn.PgError{Code: "23514", ConstraintName: "variants_price_check", TableName: "variants"}, apperr.BadUserInput},
		{"ErrServiceUnavailableOnTimeout", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, apperr.ServiceUnavailable},
		{"ErrServiceUnavailableOnConnect", fmt.Errorf("wrap: %w", &pgconn.ConnectError{}), apperr.ServiceUnavailable},
		{"ErrInternal", errors.New("*pgconn.PgError: syntax error at or near SELECT"), apperr.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae, ok := apperr.As(pg.MapError(tc.err))
			if !ok || ae.Code != tc.code {
				t.Fatalf("got %v, want %s", ae, tc.code)
			}
			for _, leak := range []string{"_idx", "_fkey", "_check", "customers", "orders", "variants", "pgconn", "SELECT", "constraint"} {
				if strings.Contains(ae.Message, leak) {
					t.Fatalf("client message %q leaks %q", ae.Message, leak)
				}
			}
		})
	}
}
