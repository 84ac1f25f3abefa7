# A minimal rhizo-client program (unchanged rhizo API) that works against Tendril with any of the
# configs here:  python3 example.py -c config-mqtt.yaml   (rhizo-client installed: pip install rhizo-client)
import random

from rhizo.controller import Controller

c = Controller()
c.messages.add_handler(lambda message_type, parameters: print('message', message_type, parameters))
while True:
    c.sequences.update('temperature', round(20 + random.uniform(-2, 2), 2))  # a sequence in the controller's folder
    c.sleep(10)
