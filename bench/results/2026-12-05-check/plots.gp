set terminal pngcairo size 900,540 font 'sans,10'
set termoption noenhanced
set grid ytics
set key top left
set output 'latency.png'
set title 'Ping-pong round trip (median of runs, bars: min..max)'
set ylabel 'microseconds (log)'
set logscale y
unset logscale x
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -30
plot 'latency.dat' using 2:3:4:xtic(1) title "(a) Linux<->Linux", 'latency.dat' using 5:6:7 title "(b) bypass<->bypass (memif)", 'latency.dat' using 8:9:10 title "(b) bypass<->bypass (memif), dedicated fastpath core", 'latency.dat' using 11:12:13 title "(c) Linux->bypass (af_xdp)"
unset logscale y
set xtics norotate
set output 'echo_scale.png'
set title "Echo throughput, 64 B requests, 1 in flight per connection"
set style data lines
set logscale x
set xlabel 'connections'
set ylabel 'responses per second'
set yrange [0:*]
plot 'echo_scale.dat' using 1:2:3:4 with yerrorlines title "(a) Linux<->Linux", 'echo_scale.dat' using 1:5:6:7 with yerrorlines title "(b) bypass<->bypass (memif)", 'echo_scale.dat' using 1:8:9:10 with yerrorlines title "(b) bypass<->bypass (memif), dedicated fastpath core", 'echo_scale.dat' using 1:11:12:13 with yerrorlines title "(c) Linux->bypass (af_xdp)"
unset logscale x
unset xlabel
set autoscale y
set output 'efficiency.png'
set title "CPU efficiency: responses per CPU-second (daemons + apps, both sides)"
set style data lines
set logscale x
set xlabel 'connections'
set ylabel 'responses per CPU-second'
set yrange [0:*]
plot 'efficiency.dat' using 1:2:3:4 with yerrorlines title "(a) Linux<->Linux", 'efficiency.dat' using 1:5:6:7 with yerrorlines title "(b) bypass<->bypass (memif)", 'efficiency.dat' using 1:8:9:10 with yerrorlines title "(b) bypass<->bypass (memif), dedicated fastpath core", 'efficiency.dat' using 1:11:12:13 with yerrorlines title "(c) Linux->bypass (af_xdp)"
unset logscale x
unset xlabel
set autoscale y
set output 'efficiency_server.png'
set title "Responses per server-side CPU-second (server app + its daemon)"
set style data lines
set logscale x
set xlabel 'connections'
set ylabel 'responses per server CPU-second'
set yrange [0:*]
plot 'efficiency_server.dat' using 1:2:3:4 with yerrorlines title "(a) Linux<->Linux", 'efficiency_server.dat' using 1:5:6:7 with yerrorlines title "(b) bypass<->bypass (memif)", 'efficiency_server.dat' using 1:8:9:10 with yerrorlines title "(b) bypass<->bypass (memif), dedicated fastpath core", 'efficiency_server.dat' using 1:11:12:13 with yerrorlines title "(c) Linux->bypass (af_xdp)"
unset logscale x
unset xlabel
set autoscale y
set output 'bulk_cps.png'
set multiplot layout 1,1
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set key below
set title 'bulk goodput (Mbit/s)'
set ylabel ''
plot 'bulk.dat' using 2:3:4:xtic(1) title "(a) Linux<->Linux", 'bulk.dat' using 5:6:7 title "(b) bypass<->bypass (memif)", 'bulk.dat' using 8:9:10 title "(b) bypass<->bypass (memif), dedicated fastpath core", 'bulk.dat' using 11:12:13 title "(c) Linux->bypass (af_xdp)"
unset multiplot
