<?php
/*
 * WordPress configuration for lab "lab", managed by labctl: the same file
 * on every web node. Change lab.toml and re-run "labctl up" instead of editing it.
 */

// The database is reached through the MySQL virtual IP, which always sits on
// the group replication primary.
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', 'WpDbPw-f4Gt7yBn1mZ3' );
define( 'DB_HOST', '192.168.1.150' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );

// Keys and salts, generated once for the lab and identical on both web nodes,
// so a login made through one node is valid on the other.
define( 'AUTH_KEY', 'salt0-auth_key-$x{y}\\\'q\'\\-Zk00pLm' );
define( 'SECURE_AUTH_KEY', 'salt1-secure_auth_key-$x{y}\\\'q\'\\-Zk07pLm' );
define( 'LOGGED_IN_KEY', 'salt2-logged_in_key-$x{y}\\\'q\'\\-Zk14pLm' );
define( 'NONCE_KEY', 'salt3-nonce_key-$x{y}\\\'q\'\\-Zk21pLm' );
define( 'AUTH_SALT', 'salt4-auth_salt-$x{y}\\\'q\'\\-Zk28pLm' );
define( 'SECURE_AUTH_SALT', 'salt5-secure_auth_salt-$x{y}\\\'q\'\\-Zk35pLm' );
define( 'LOGGED_IN_SALT', 'salt6-logged_in_salt-$x{y}\\\'q\'\\-Zk42pLm' );
define( 'NONCE_SALT', 'salt7-nonce_salt-$x{y}\\\'q\'\\-Zk49pLm' );

$table_prefix = 'wp_';

// Visitors reach WordPress only through the load balancer: every URL WordPress
// builds, and the one stored at install time, points there.
define( 'WP_HOME', 'http://192.168.1.120' );
define( 'WP_SITEURL', 'http://192.168.1.120' );

// Code changes go through labctl on both nodes at once, never through one
// node's admin screen.
define( 'DISALLOW_FILE_MODS', true );
define( 'WP_AUTO_UPDATE_CORE', false );
define( 'WP_DEBUG', false );

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}

require_once ABSPATH . 'wp-settings.php';
