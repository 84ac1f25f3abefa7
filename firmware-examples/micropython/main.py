# MicroPython (ESP32, Raspberry Pi Pico W) -> Tendril with umqtt.simple.
# Publishes "s,temperature,<UTC time>,<value>" to the controller's topic at QoS 1 (umqtt.simple waits
# for the PUBACK, which Tendril sends once the value is stored), and answers set_interval messages.
# Copy config.example.py to config.py, fill it in, and copy both files to the board (mpremote cp).
import json
import time

import network
import ntptime
from umqtt.simple import MQTTClient

import config

interval = config.INTERVAL_SECONDS


def utc_now():
    t = time.gmtime()  # UTC once ntptime.settime() ran
    return '%04d-%02d-%02dT%02d:%02d:%02dZ' % t[:6]


def on_message(topic, payload):
    global interval
    try:
        seconds = json.loads(payload)['set_interval']['seconds']
    except (ValueError, KeyError, TypeError):
        return  # "d," announcements and other messages
    if isinstance(seconds, int) and seconds >= 1:
        interval = seconds


def read_temperature():
    import machine
    if hasattr(machine, 'ADC') and hasattr(machine.ADC, 'CORE_TEMP'):  # RP2040 on-chip sensor
        volts = machine.ADC(machine.ADC.CORE_TEMP).read_u16() * 3.3 / 65535
        return round(27 - (volts - 0.706) / 0.001721, 2)
    import esp32
    return round((esp32.raw_temperature() - 32) / 1.8, 2)  # ESP32: °F from the internal sensor


def connect():
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(config.WIFI_SSID, config.WIFI_PASSWORD)
    while not wlan.isconnected():
        time.sleep(0.25)
    ntptime.settime()
    # user name "key", password = the controller's API key; TLS with the server name for SNI
    client = MQTTClient(config.CLIENT_ID, config.HOST, port=config.PORT, user='key', password=config.KEY,
                        keepalive=60, ssl=config.SSL, ssl_params={'server_hostname': config.HOST})
    client.set_callback(on_message)
    client.connect()  # raises MQTTException(5) when the key is refused
    client.subscribe(config.TOPIC)
    return client


def main():
    client = connect()
    last = 0
    while True:
        try:
            client.check_msg()
            if time.time() - last >= interval:
                last = time.time()
                client.publish(config.TOPIC, 's,temperature,%s,%s' % (utc_now(), read_temperature()), qos=1)
                client.publish(config.TOPIC, '{"watchdog":{}}')
            time.sleep(0.2)
        except OSError:  # connection lost: connect again after a pause
            time.sleep(5)
            client = connect()


main()
