package pg

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// uuidCodec scans uuid columns straight into *uuid.UUID and
// *uuid.NullUUID. pgx (v5.12) looks for a sql.Scanner before it tries the
// wrap functions pgx-google-uuid registers, so without this every id in
// every row went binary → text string → uuid.Parse: two allocations and a
// parse per id, ~1,250 allocations per storefront listing. Encoding and
// DecodeValue stay pgx-google-uuid's.
type uuidCodec struct{ pgxuuid.UUIDCodec }

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if format == pgtype.BinaryFormatCode {
		switch target.(type) {
		case *uuid.UUID:
			return scanUUID{}
		case *uuid.NullUUID:
			return scanNullUUID{}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type scanUUID struct{}

func (scanUUID) Scan(src []byte, dst any) error {
	d := dst.(*uuid.UUID)
	if src == nil { // as uuid.UUID.Scan: NULL leaves the value alone
		return nil
	}
	if len(src) != 16 {
		return fmt.Errorf("invalid length for uuid: %v", len(src))
	}
	copy(d[:], src)
	return nil
}

type scanNullUUID struct{}

func (scanNullUUID) Scan(src []byte, dst any) error {
	d := dst.(*uuid.NullUUID)
	if src == nil {
		*d = uuid.NullUUID{}
		return nil
	}
	if len(src) != 16 {
		return fmt.Errorf("invalid length for uuid: %v", len(src))
	}
	copy(d.UUID[:], src)
	d.Valid = true
	return nil
}

// registerUUID installs pgx-google-uuid's encoders and the scanning codec.
func registerUUID(tm *pgtype.Map) {
	pgxuuid.Register(tm)
	tm.RegisterType(&pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}})
}
