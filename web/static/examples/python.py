import requests
import json

def remove_background(image_url, auth_token, **kwargs):
    api_url = "{{BASE_URL}}/api/v1/image/remove-background"
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {auth_token}"
    }
    payload = {
        "input_image": image_url,
        "output_format": kwargs.get("output_format", "png"),
        **kwargs
    }

    response = requests.post(api_url, headers=headers, data=json.dumps(payload))
    response.raise_for_status()
    return response.json()

# Usage examples
jwt_token = "YOUR_JWT_AUTH_TOKEN"
image_url = "https://example.com/your-product.jpg"

try:
    # Basic usage
    result = remove_background(image_url, jwt_token)
    print("Success:", result)
    
    # With solid background
    result = remove_background(image_url, jwt_token, bg_color="#2ec27e")
    print("Success:", result)
    
    # With gradient background
    result = remove_background(
        image_url, 
        jwt_token, 
        bg_gradient="#a855f7:#ec4899", 
        gradient_direction="diagonal-tl-br"
    )
    print("Success:", result)
except requests.exceptions.RequestException as e:
    print(f"Error: {e}")
