package graph

import (
	"strconv"

	"cartograph/internal/apperr"
	"cartograph/internal/relay"

	"github.com/google/uuid"
)

// maxFilterIDs bounds id-list arguments of inventory fields.
const maxFilterIDs = 250

// typedIDs parses a list of global ids of one type (nil for nil).
func typedIDs(field, typ string, gids []string) ([]uuid.UUID, error) {
	if gids == nil {
		return nil, nil
	}
	if len(gids) > maxFilterIDs {
		return nil, apperr.BadInput(field, "at most %d ids", maxFilterIDs)
	}
	out := make([]uuid.UUID, len(gids))
	for i, g := range gids {
		id, err := relay.ParseTypedID(field, typ, g)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// itemLocation parses an inventory item (variant) and location (warehouse) id.
func itemLocation(i int, list, item, location string) (uuid.UUID, uuid.UUID, error) {
	prefix := "input."
	if list != "" {
		prefix += list + "." + strconv.Itoa(i) + "."
	}
	v, err := relay.ParseTypedID(prefix+"inventoryItemId", "ProductVariant", item)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	field := "locationId"
	if list == "" { // a transfer names its source location
		field = "fromLocationId"
	}
	l, err := relay.ParseTypedID(prefix+field, "Warehouse", location)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	return v, l, nil
}

// since64 widens a since argument.
func since64(since *int) *int64 {
	if since == nil {
		return nil
	}
	v := int64(*since)
	return &v
}
