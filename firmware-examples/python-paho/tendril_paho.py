#!/usr/bin/env python3
"""Send readings to Tendril with plain paho-mqtt (no Tendril code): a complete program to copy.

Each round publishes, to the controller's folder topic (its path without the leading slash):
  - a rhizo CSV line   s,<sequence>,<timestamp>,<value>   (one value, with its own timestamp)
  - a JSON update      {"update": {"$t": <timestamp>, "<sequence>": <value>, ...}}   (several at once)
with QoS 1, waiting for each PUBACK: Tendril sends it only once the values are stored.

Works with paho-mqtt 1.6 (Debian's python3-paho-mqtt) and 2.x, over TCP or WebSocket (/mqtt).

  python3 tendril_paho.py --host tendril.example.com --key "$TENDRIL_KEY" --folder acme/greenhouse/pi-1
  python3 tendril_paho.py --host tendril.example.com --port 443 --websocket --tls ...
"""
import argparse
import datetime
import json
import random
import sys
import time

import paho.mqtt.client as mqtt


def utc_now():
    # ISO 8601 UTC with a trailing Z, the form Tendril writes (rhizo's "... Z" is accepted too)
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def make_client(websocket):
    transport = 'websockets' if websocket else 'tcp'
    if hasattr(mqtt, 'CallbackAPIVersion'):  # paho-mqtt 2.x: keep the 1.x callback signatures
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, transport=transport, protocol=mqtt.MQTTv311)
    else:  # paho-mqtt 1.6
        client = mqtt.Client(transport=transport, protocol=mqtt.MQTTv311)
    if websocket:
        client.ws_set_options(path='/mqtt')  # paho offers the "mqtt" subprotocol Tendril expects
    return client


def connect(args):
    client = make_client(args.websocket)
    client.username_pw_set('key', args.key)  # user name "key", password = the controller's API key
    if args.tls:
        client.tls_set()  # the system's CA certificates
    result = {}

    def on_connect(client, userdata, flags, rc):
        result['rc'] = rc

    client.on_connect = on_connect
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    deadline = time.time() + 10
    while 'rc' not in result and time.time() < deadline:
        time.sleep(0.05)
    if result.get('rc') != 0:
        client.loop_stop()
        # 4/5: the key was refused; anything else: see the paho documentation of CONNACK codes
        sys.exit('connection refused: %s' % mqtt.connack_string(result['rc']) if 'rc' in result else 'no answer from the server')
    return client


def publish(client, topic, payload):
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish()  # returns once the PUBACK arrived: the values are stored
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        sys.exit('publish failed: %s' % mqtt.error_string(info.rc))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='localhost')
    parser.add_argument('--port', type=int, default=None, help='default 1883 (TCP) or 8080 (WebSocket)')
    parser.add_argument('--websocket', action='store_true', help='MQTT over the /mqtt WebSocket of the HTTP port')
    parser.add_argument('--tls', action='store_true')
    parser.add_argument('--key', required=True, help="the controller's API key")
    parser.add_argument('--folder', required=True, help="the controller's folder, e.g. acme/greenhouse/pi-1")
    parser.add_argument('--count', type=int, default=1, help='rounds to send (0: forever)')
    parser.add_argument('--interval', type=float, default=10.0, help='seconds between rounds')
    parser.add_argument('--value', type=float, default=None, help='send this temperature instead of a simulated one')
    args = parser.parse_args()
    if args.port is None:
        args.port = 8080 if args.websocket else 1883
    topic = args.folder.strip('/')

    client = connect(args)
    sent = 0
    while args.count == 0 or sent < args.count:
        temperature = args.value if args.value is not None else round(20 + random.uniform(-2, 2), 2)
        publish(client, topic, 's,temperature,%s,%s' % (utc_now(), temperature))
        publish(client, topic, json.dumps({'update': {'$t': utc_now(), 'humidity': round(50 + random.uniform(-5, 5), 1)}}))
        sent += 1
        if args.count == 0 or sent < args.count:
            time.sleep(args.interval)
    client.loop_stop()
    client.disconnect()
    print('sent %d round(s) to %s' % (sent, topic))


if __name__ == '__main__':
    main()
