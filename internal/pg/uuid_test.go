package pg_test

import (
	"context"
	"testing"

	"cartograph/internal/pg"
	"cartograph/internal/testdb"

	"github.com/google/uuid"
)

// TestUUIDScan proves ids scan natively (binary, no text round trip) into
// uuid.UUID, uuid.NullUUID and []uuid.UUID, that NULL behaves as
// uuid.UUID.Scan made it behave, and that encoding still works.
func TestUUIDScan(t *testing.T) {
	ctx := context.Background()
	pool, _, err := pg.Open(ctx, testdb.AdminURL(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	want := uuid.Must(uuid.NewV7())
	var got uuid.UUID
	var null, notNull uuid.NullUUID
	var list []uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT $1::uuid, NULL::uuid, $1::uuid, ARRAY[$1::uuid, $2::uuid]`, want, uuid.Nil).
		Scan(&got, &null, &notNull, &list); err != nil {
		t.Fatal(err)
	}
	if got != want || null.Valid || !notNull.Valid || notNull.UUID != want || len(list) != 2 || list[0] != want || list[1] != uuid.Nil {
		t.Fatalf("got %v %v %v %v", got, null, notNull, list)
	}
	// NULL into a plain uuid.UUID leaves it alone, as uuid.UUID.Scan did.
	var zero uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&zero); err != nil || zero != uuid.Nil {
		t.Fatalf("NULL into uuid.UUID: %v %v", zero, err)
	}
	var text string
	if err := pool.QueryRow(ctx, `SELECT $1::uuid::text`, want).Scan(&text); err != nil || text != want.String() {
		t.Fatalf("encode: %q %v", text, err)
	}
	scan := func(n int) float64 {
		return testing.AllocsPerRun(50, func() {
			rows, err := pool.Query(ctx, `SELECT g FROM (VALUES ($1::uuid)) v(g), generate_series(1, $2::int)`, want, n)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				if err := rows.Scan(&got); err != nil {
					t.Fatal(err)
				}
			}
			rows.Close()
		})
	}
	// One allocation per row is rows.Scan's own (its variadic slice); the
	// text round trip cost three more.
	if one, hundred := scan(1), scan(101); hundred-one > 150 {
		t.Fatalf("%v allocations for 100 more uuid rows: ids are not scanned natively", hundred-one)
	}
}
