package testenv

import "strings"

// Fenced returns the bodies of the ```lang fences of a Markdown text, for
// the tests that keep a document's code blocks verbatim in compiled files.
func Fenced(md, lang string) []string {
	var out []string
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```"+lang {
			continue
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		out = append(out, strings.Join(body, "\n"))
	}
	return out
}
