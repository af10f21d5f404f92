import { formatPrice, type Line } from './util/format'

export class Cart {
  private lines: Line[] = []

  add(sku: string, cents: number): this {
    this.lines.push({ sku, cents })
    return this
  }

  rows(): string[] {
    return this.lines.map((l) => `${l.sku}: ${formatPrice(Math.abs(l.cents))}`)
  }

  total(): string {
    const sum = this.lines.reduce((a, l) => a + l.cents, 0)
    return formatPrice(sum)
  }
}
