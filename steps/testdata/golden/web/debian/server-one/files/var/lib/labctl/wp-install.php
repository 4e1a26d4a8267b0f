<?php
/*
 * Installs WordPress for lab "lab" once, unattended. labctl runs it with
 * php on one web node as the php-fpm user; the admin password arrives on
 * stdin, never in a command line.
 */

// Load WordPress the way its installer does: no redirect to install.php.
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST']       = '192.168.1.120';
$_SERVER['REQUEST_URI']     = '/wp-admin/install.php';
$_SERVER['REQUEST_METHOD']  = 'POST';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

// The lab has no mail server: skip the "new site" mail (a pluggable function).
function wp_new_blog_notification( $blog_title, $blog_url, $user_id, $password ) {
}

require '/var/www/wordpress' . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

global $wpdb;
if ( is_blog_installed() ) {
	// Installed by hand through a misconfigured proxy, the stored URLs may name
	// it ("http://backend"). The rows are written directly: get_option() would
	// see WP_SITEURL and call the update a no-op.
	foreach ( array( 'siteurl', 'home' ) as $option ) {
		$wpdb->update( $wpdb->options, array( 'option_value' => 'http://192.168.1.120' ), array( 'option_name' => $option ) );
	}
	echo "labctl-wp: already installed\n";
	exit( 0 );
}

$password = rtrim( (string) stream_get_contents( STDIN ), "\r\n" );
if ( '' === $password ) {
	fwrite( STDERR, "labctl-wp: no admin password on stdin\n" );
	exit( 2 );
}

$result = wp_install( 'Lab\'s WordPress', 'labadmin', 'admin@lab.example', true, '', $password );
if ( empty( $result['user_id'] ) || is_wp_error( $result['user_id'] ) ) {
	fwrite( STDERR, "labctl-wp: wp_install did not create the admin user\n" );
	exit( 1 );
}
echo "labctl-wp: installed\n";
