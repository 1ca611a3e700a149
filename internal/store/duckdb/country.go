package duckdb

// The country function (rollup.CountryFunc): the rollups that feed the maps count rows per country, so the
// store gives SQL the GeoIP lookup of the process that opened it, and recounts those rollups when the GeoIP
// database is not the one they were counted with.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/castwatch/castwatch/internal/rollup"
)

// countryUDF is rollup.CountryFunc: VARCHAR address → VARCHAR ISO country code, empty when unknown or NULL.
type countryUDF struct{ lookup func(ip string) string }

func (f countryUDF) Config() duck.ScalarFuncConfig {
	text, _ := duck.NewTypeInfo(duck.TYPE_VARCHAR)
	return duck.ScalarFuncConfig{InputTypeInfos: []duck.TypeInfo{text}, ResultTypeInfo: text, SpecialNullHandling: true}
}

func (f countryUDF) Executor() duck.ScalarFuncExecutor {
	return duck.ScalarFuncExecutor{RowExecutor: func(v []driver.Value) (any, error) {
		ip, _ := v[0].(string)
		if ip == "" || f.lookup == nil {
			return "", nil
		}
		return f.lookup(ip), nil
	}}
}

// registerCountry makes rollup.CountryFunc callable on every connection of the database.
func registerCountry(ctx context.Context, db *sql.DB, lookup func(ip string) string) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := duck.RegisterScalarUDF(c, rollup.CountryFunc, countryUDF{lookup: lookup}); err != nil {
		return fmt.Errorf("register %s: %w", rollup.CountryFunc, err)
	}
	return nil
}

// metaTable keeps facts about how the store's derived tables were made.
const metaTable = "store_meta"

// countrySourceKey is the metaTable key of the GeoIP database the country rollups were counted with.
const countrySourceKey = "rollup_country_source"

// countrySourceChanged reports whether the GeoIP database (Options.CountrySource) differs from the one the
// country rollups were counted with; they must then be recounted, and saveCountrySource called. A store opened
// without a country lookup reports no change. The caller holds the write connection.
func (d *DB) countrySourceChanged(ctx context.Context, c *sql.Conn) (changed bool, was string, err error) {
	if d.countryLookup == nil {
		return false, "", nil
	}
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+metaTable+` (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`); err != nil {
		return false, "", fmt.Errorf("duckdb: %s: %w", metaTable, err)
	}
	var v sql.NullString
	err = c.QueryRowContext(ctx, `SELECT value FROM `+metaTable+` WHERE key = ?`, countrySourceKey).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, "", fmt.Errorf("duckdb: %s: %w", metaTable, err)
	}
	return !v.Valid || v.String != d.countrySource, v.String, nil
}

// saveCountrySource records the GeoIP database the country rollups are now counted with.
func (d *DB) saveCountrySource(ctx context.Context, c *sql.Conn) error {
	if d.countryLookup == nil {
		return nil
	}
	_, err := c.ExecContext(ctx, `INSERT OR REPLACE INTO `+metaTable+` VALUES (?, ?)`, countrySourceKey, d.countrySource)
	if err != nil {
		return fmt.Errorf("duckdb: %s: %w", metaTable, err)
	}
	return nil
}

// usesCountry reports whether any rollup of the table counts by country.
func usesCountry(table string) bool {
	for _, r := range rollup.For(table) {
		if r.UsesCountry() {
			return true
		}
	}
	return false
}
