async function removeBackground(imageUrl, authToken, options = {}) {
  const apiUrl = '{{BASE_URL}}/api/v1/image/remove-background';

  const payload = {
    input_image: imageUrl,
    output_format: options.output_format || 'png',
    ...options
  };

  const response = await fetch(apiUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Authorization': `Bearer ${authToken}`
    },
    body: JSON.stringify(payload)
  });

  if (!response.ok) {
    throw new Error(`HTTP error! status: ${response.status}`);
  }

  return await response.json();
}

// Usage examples
const jwtToken = 'YOUR_JWT_AUTH_TOKEN';
const imageUrl = 'https://example.com/your-product.jpg';

// Basic usage
removeBackground(imageUrl, jwtToken)
  .then(result => console.log('Success:', result))
  .catch(error => console.error('Error:', error));

// With solid background
removeBackground(imageUrl, jwtToken, { bg_color: '#2ec27e' })
  .then(result => console.log('Success:', result))
  .catch(error => console.error('Error:', error));

// With gradient background
removeBackground(imageUrl, jwtToken, {
  bg_gradient: '#a855f7:#ec4899',
  gradient_direction: 'diagonal-tl-br'
})
  .then(result => console.log('Success:', result))
  .catch(error => console.error('Error:', error));
