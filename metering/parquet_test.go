package metering

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// readWithPyarrow prints a Parquet file's rows as CSV, as pyarrow reads
// them: window bounds as Unix milliseconds.
const readWithPyarrow = `
import csv, sys, datetime
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow([f.name + ":" + str(f.type) for f in t.schema])
for r in t.to_pylist():
    row = []
    for k, v in r.items():
        if isinstance(v, datetime.datetime):
            v = int(v.timestamp() * 1000)
        row.append(str(v))
    w.writerow(row)
`

// TestExportParquetReadByPyarrow: the Parquet export, read back by pyarrow,
// holds every row of the CSV export with the same values, in order.
func TestExportParquetReadByPyarrow(t *testing.T) {
	python := testenv.Addrs(t, testenv.Python)[0]
	r := usageReporter(t, ts("2024-03-01T00:00:00Z").Add(time.Hour))
	q := ExportQuery{Meter: "requests", From: ts("2023-12-31T23:00:00Z"), To: ts("2024-02-29T23:00:00Z"), Window: WindowMonth, TZ: "Europe/Berlin"}
	var csvOut, pqOut bytes.Buffer
	if err := r.Export(t.Context(), q, FormatCSV, &csvOut); err != nil {
		t.Fatal(err)
	}
	if err := r.Export(t.Context(), q, FormatParquet, &pqOut); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "export.parquet")
	if err := os.WriteFile(file, pqOut.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", readWithPyarrow, file).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow cannot read the export: %v\n%s", err, out)
	}
	got, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantSchema := "tenant:string,meter:string,window_start:timestamp[ms, tz=UTC],window_end:timestamp[ms, tz=UTC],quantity:int64,unit:string,row_id:string"
	if strings.Join(got[0], ",") != wantSchema {
		t.Errorf("schema %v, want %s", got[0], wantSchema)
	}
	if len(got) != len(want) || len(want) < 2 {
		t.Fatalf("pyarrow read %d rows, the CSV has %d", len(got)-1, len(want)-1)
	}
	for i := 1; i < len(want); i++ {
		w := want[i]
		for _, j := range []int{2, 3} { // window bounds: the same instant
			w[j] = strconv.FormatInt(ts(w[j]).UnixMilli(), 10)
		}
		if strings.Join(got[i], ",") != strings.Join(w, ",") {
			t.Errorf("row %d: pyarrow read %v, the CSV has %v", i, got[i], w)
		}
	}
}
