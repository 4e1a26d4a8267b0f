#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ file /etc/nginx/nginx.conf'
{ if [ -f '/etc/nginx/nginx.conf' ]; then echo "$(sha256sum <'/etc/nginx/nginx.conf' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/etc/nginx/nginx.conf')"; fi
} 2>/dev/null || true
echo '@@ file /etc/nginx/conf.d/labctl-wordpress.conf'
{ if [ -f '/etc/nginx/conf.d/labctl-wordpress.conf' ]; then echo "$(sha256sum <'/etc/nginx/conf.d/labctl-wordpress.conf' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/etc/nginx/conf.d/labctl-wordpress.conf')"; fi
} 2>/dev/null || true
echo '@@ file /etc/php/8.2/fpm/pool.d/www.conf'
{ if [ -f '/etc/php/8.2/fpm/pool.d/www.conf' ]; then echo "$(sha256sum <'/etc/php/8.2/fpm/pool.d/www.conf' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/etc/php/8.2/fpm/pool.d/www.conf')"; fi
} 2>/dev/null || true
echo '@@ file /var/www/wordpress/wp-config.php'
{ if [ -f '/var/www/wordpress/wp-config.php' ]; then echo "$(sha256sum <'/var/www/wordpress/wp-config.php' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/var/www/wordpress/wp-config.php')"; fi
} 2>/dev/null || true
echo '@@ wordpress'
{ sed -n "s/^\$wp_version = '\(.*\)';/\1/p" '/var/www/wordpress/wp-includes/version.php'
} 2>/dev/null || true
echo '@@ uploads'
{ stat -c %U:%G '/var/www/wordpress/wp-content/uploads'
} 2>/dev/null || true
echo '@@ active php8.2-fpm'
{ systemctl is-active 'php8.2-fpm'
} 2>/dev/null || true
echo '@@ enabled php8.2-fpm'
{ systemctl is-enabled 'php8.2-fpm'
} 2>/dev/null || true
echo '@@ active nginx'
{ systemctl is-active 'nginx'
} 2>/dev/null || true
echo '@@ enabled nginx'
{ systemctl is-enabled 'nginx'
} 2>/dev/null || true
echo '@@ loaded web.loaded'
{ cat '/var/lib/labctl/web.loaded'
} 2>/dev/null || true
