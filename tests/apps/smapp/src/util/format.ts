// Money formatting for the cart.
export interface Line {
  sku: string
  cents: number
}

export function formatPrice(cents: number): string {
  if (cents < 0) {
    throw new Error(`negative price: ${cents}`)
  }
  return (cents / 100).toFixed(2)
}
