#!/bin/sh
# Read-only: MySQL through the VIP, as WordPress reaches it.
set -eu
# The PHP program is single-quoted on purpose: its $ are PHP's.
# shellcheck disable=SC2016
php -r '// Read-only: connects to MySQL through the VIP 192.168.1.150 as WordPress does and
// reports which server answered. The password comes on stdin.
mysqli_report( MYSQLI_REPORT_OFF );
$password = rtrim( (string) fgets( STDIN ), "\r\n" );
$db       = mysqli_init();
$db->options( MYSQLI_OPT_CONNECT_TIMEOUT, 5 );
if ( ! @$db->real_connect( '\''192.168.1.150'\'', '\''wordpress'\'', $password, '\''wordpress'\'', 3306 ) ) {
	printf( "labctl-db error=%s\n", mysqli_connect_error() );
	exit( 0 );
}
$row = $db->query( '\''SELECT @@hostname, @@super_read_only'\'' )->fetch_row();
printf( "labctl-db hostname=%s super_read_only=%s\n", $row[0], $row[1] );
'
