package web

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/store"
)

// columns maps result column names (case-insensitively) to positions, so readers do not depend on order.
type columns map[string]int

func columnsOf(res *store.Result, want ...string) (columns, error) {
	c := columns{}
	for i, name := range res.Columns {
		c[strings.ToLower(name)] = i
	}
	for _, w := range want {
		if _, ok := c[w]; !ok {
			return nil, fmt.Errorf("result has no column %q (columns: %v)", w, res.Columns)
		}
	}
	return c, nil
}

func (c columns) value(row []any, name string) any {
	i, ok := c[name]
	if !ok || i >= len(row) {
		return nil
	}
	return row[i]
}

// asInt converts a SQL count or sum as drivers return it (any integer type, float, big.Int or text) to int64.
func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("count %d overflows int64", x)
		}
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case *big.Int:
		if !x.IsInt64() {
			return 0, fmt.Errorf("count %s overflows int64", x)
		}
		return x.Int64(), nil
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		return strconv.ParseInt(x, 10, 64)
	default:
		return 0, fmt.Errorf("unexpected count type %T", v)
	}
}

// asTime converts a SQL timestamp as drivers return it to UTC.
func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x.UTC(), nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("unparseable timestamp %q", x)
	default:
		return time.Time{}, fmt.Errorf("unexpected timestamp type %T", v)
	}
}

// asString converts a SQL text value to a string; NULL becomes "".
func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}
