#!/bin/sh
# gen-conf-man.sh FASTPATHD TEMPLATE OUT: fastpathd.conf(5) from
# `fastpathd --help-config` (the config field tables in fastpathd/config.c
# and config_tenant.c: the one source of the reference) and TEMPLATE, whose
# line @FIELDS@ is replaced by the field list.  Run by the build.
set -eu
fpd=$1 tmpl=$2 out=$3
"$fpd" --help-config >"$out.fields" || { echo "gen-conf-man.sh: $fpd --help-config failed" >&2; exit 1; }
awk -v fields="$out.fields" '
# troff-safe: backslashes, and a leading dot or quote would be a request
function esc(s) {
	gsub(/\\/, "\\e", s)
	if (s ~ /^[.\x27]/)
		s = "\\&" s
	return s
}
$0 == "@FIELDS@" {
	while ((getline line < fields) > 0) {
		if (line ~ /^\[/) {
			hdr = line
			sub(/\].*/, "]", hdr)
			rest = substr(line, length(hdr) + 2)
			print ".SS " esc(hdr)
			if (rest != "")
				print esc(rest)
		} else if (line ~ /^  [^ ]/) {
			sub(/^  /, "", line)
			key = line
			sub(/ .*/, "", key)
			help = substr(line, length(key) + 1)
			sub(/^ +/, "", help)
			print ".TP"
			print "\\fB" esc(key) "\\fR"
			print esc(help)
		}
	}
	next
}
{ print }
' "$tmpl" >"$out.tmp"
rm -f "$out.fields"
mv "$out.tmp" "$out"
