<?php
/*
 * Read-only: reports whether WordPress of lab "lab" is installed and which
 * site URL the database holds. labctl pipes it into php on one web node.
 */

define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST']       = '192.168.1.120';
$_SERVER['REQUEST_URI']     = '/';
$_SERVER['REQUEST_METHOD']  = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

require '/var/www/wordpress' . '/wp-load.php';

global $wpdb;
$installed = is_blog_installed();
// The stored row, not get_option(): WP_SITEURL in wp-config.php would mask it.
$siteurl = $installed ? $wpdb->get_var( "SELECT option_value FROM {$wpdb->options} WHERE option_name = 'siteurl'" ) : '';
$admin   = $installed && username_exists( 'labadmin' );

printf( "labctl-wp installed=%d admin=%d siteurl=%s\n", $installed ? 1 : 0, $admin ? 1 : 0, (string) $siteurl );
