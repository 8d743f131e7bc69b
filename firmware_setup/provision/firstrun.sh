#!/bin/bash
# fer-edge booth, first boot on Raspberry Pi OS Bookworm: what Raspberry Pi Imager's "OS customisation"
# writes, plus the appliance. It lies on the boot partition as /boot/firmware/firstrun.sh and runs once,
# before networking, from cmdline.txt (render.py appends: systemd.run=/boot/firmware/firstrun.sh
# systemd.run_success_action=reboot systemd.unit=kernel-command-line.target); then the Pi reboots and
# fer-edge-firstboot.service installs the appliance once the network is up. Placeholders: see user-data.
set +e # like Imager's script: one failed step must not leave the card half configured and unbootable

# -- values (render.py fills these; each is one shell word in single quotes)
HOSTNAME_NEW='@HOSTNAME@'
ADMIN_USER='@ADMIN_USER@'
ADMIN_PASSWORD_HASH='@ADMIN_PASSWORD_HASH@'
SSH_PUBLIC_KEY='@SSH_PUBLIC_KEY@'
WIFI_SSID='@WIFI_SSID@'
WIFI_PASSWORD='@WIFI_PASSWORD@'
WIFI_COUNTRY='@WIFI_COUNTRY@'
TIMEZONE='@TIMEZONE@'
# -- end of values

CUSTOM=/usr/lib/raspberrypi-sys-mods/imager_custom
$CUSTOM set_hostname "$HOSTNAME_NEW"
$CUSTOM enable_ssh -k "$SSH_PUBLIC_KEY"
# renames the image's first user (uid 1000) and sets its password, as Imager does
/usr/lib/userconf-pi/userconf "$ADMIN_USER" "$ADMIN_PASSWORD_HASH"
$CUSTOM set_wlan "$WIFI_SSID" "$WIFI_PASSWORD" "$WIFI_COUNTRY"
$CUSTOM set_timezone "$TIMEZONE"

install -m 0644 /boot/firmware/fer-edge-firstboot.service /etc/systemd/system/fer-edge-firstboot.service
ln -sf /etc/systemd/system/fer-edge-firstboot.service /etc/systemd/system/multi-user.target.wants/fer-edge-firstboot.service

rm -f /boot/firmware/firstrun.sh
sed -i 's| systemd.run.*||g' /boot/firmware/cmdline.txt
exit 0
