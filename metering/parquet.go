package metering

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// parquetRow is an ExportRow as a Parquet row: the CSV's columns, in its
// order, with the window bounds as UTC timestamps.
type parquetRow struct {
	Tenant      string `parquet:"tenant"`
	Meter       string `parquet:"meter"`
	WindowStart int64  `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd   int64  `parquet:"window_end,timestamp(millisecond)"`
	Quantity    int64  `parquet:"quantity"`
	Unit        string `parquet:"unit"`
	RowID       string `parquet:"row_id"`
}

// writeParquet writes rows as one Parquet file (one row group).
func writeParquet(w io.Writer, rows []ExportRow) error {
	pw := parquet.NewGenericWriter[parquetRow](w)
	out := make([]parquetRow, len(rows))
	for i, r := range rows {
		out[i] = parquetRow{Tenant: r.Tenant, Meter: r.Meter, WindowStart: r.WindowStart.UnixMilli(), WindowEnd: r.WindowEnd.UnixMilli(),
			Quantity: r.Quantity, Unit: r.Unit, RowID: r.RowID}
	}
	if _, err := pw.Write(out); err != nil {
		return fmt.Errorf("metering: cannot write the Parquet export: %w", err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("metering: cannot write the Parquet export: %w", err)
	}
	return nil
}
