# Requires "requests" to be installed (see python-requests.org)
import base64
import requests

with open('/path/to/file.jpg', 'rb') as f:
    image_file_b64 = base64.b64encode(f.read()).decode()

response = requests.post(
    'https://api.remove.bg/v1.0/removebg',
    data={
        'image_file_b64': image_file_b64,
        'size': 'auto'
    },
    headers={'X-Api-Key': 'INSERT_YOUR_API_KEY_HERE', 'Accept': 'application/json'},
)
if response.status_code == requests.codes.ok:
    with open('no-bg.json', 'w') as out:
        out.write(response.text)
else:
    print("Error:", response.status_code, response.text)
