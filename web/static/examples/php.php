<?php

function removeBackground($imageUrl, $authToken, $options = []) {
    $apiUrl = '{{BASE_URL}}/api/v1/image/remove-background';

    $payload = array_merge([
        'input_image' => $imageUrl,
        'output_format' => 'png'
    ], $options);

    $ch = curl_init();
    curl_setopt($ch, CURLOPT_URL, $apiUrl);
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($payload));
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_HTTPHEADER, [
        'Content-Type: application/json',
        'Authorization: Bearer ' . $authToken
    ]);

    $response = curl_exec($ch);
    $httpCode = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    curl_close($ch);

    if ($httpCode >= 400) {
        throw new Exception("HTTP error! status: $httpCode, response: $response");
    }

    return json_decode($response, true);
}

// Usage examples
$jwtToken = 'YOUR_JWT_AUTH_TOKEN';
$imageUrl = 'https://example.com/your-product.jpg';

try {
    // Basic usage
    $result = removeBackground($imageUrl, $jwtToken);
    print_r($result);
    
    // With solid background
    $result = removeBackground($imageUrl, $jwtToken, ['bg_color' => '#2ec27e']);
    print_r($result);
    
    // With gradient background
    $result = removeBackground($imageUrl, $jwtToken, [
        'bg_gradient' => '#a855f7:#ec4899',
        'gradient_direction' => 'diagonal-tl-br'
    ]);
    print_r($result);
} catch (Exception $e) {
    echo 'Error: ' . $e->getMessage();
}

?>
