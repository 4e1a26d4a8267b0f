package exercise

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ListRow is one exercise in `exercise list --json`.
type ListRow struct {
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Level    string   `json:"level"`
	Profiles []string `json:"profiles"`
	Runs     bool     `json:"runs_on_this_lab"`
	Source   string   `json:"source"`
}

// WriteList prints the catalog as a table, or as JSON, for a lab of profile.
func (c *Catalog) WriteList(out io.Writer, profile string, asJSON bool) error {
	rows := []ListRow{}
	for _, e := range c.All() {
		rows = append(rows, ListRow{e.Name, e.Title, e.Level, e.Profiles, e.Supports(profile), e.Source})
	}
	if asJSON {
		return WriteJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLEVEL\tPROFILES\tTITLE")
	for _, r := range rows {
		name := r.Name
		if !r.Runs {
			name += " (not on " + profile + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, r.Level, strings.Join(r.Profiles, ","), r.Title)
	}
	return tw.Flush()
}

// WriteJSON writes v as indented JSON (the shapes are in the README).
func WriteJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
