// Just enough unsigned big-integer arithmetic for RSA: bytes in and out, +, -, ×, long division and Montgomery modexp.

/// An arbitrary-precision unsigned integer: 64-bit limbs, least significant first, with no zero
/// limbs at the top (so zero has no limbs and equal values have equal arrays).
///
/// Misuse by the caller (subtracting a larger value, dividing by zero) is a programming error and
/// traps; everything derived from outside input is checked by the caller before it gets here.
struct BigUInt: Sendable, Hashable, Comparable, CustomStringConvertible {
    private(set) var limbs: [UInt64]

    init() { limbs = [] }

    init(_ value: UInt64) { limbs = value == 0 ? [] : [value] }

    /// Takes ownership of little-endian limbs, dropping high zero limbs.
    init(limbs: [UInt64]) {
        self.limbs = limbs
        normalize()
    }

    /// Reads a big-endian unsigned magnitude (leading zero bytes are fine).
    init<Bytes: Collection>(bigEndian bytes: Bytes) where Bytes.Element == UInt8 {
        var limbs = [UInt64](repeating: 0, count: (bytes.count + 7) / 8)
        // Walk from the least significant byte, eight bytes to a limb.
        var position = 0
        for byte in bytes.reversed() {
            limbs[position / 8] |= UInt64(byte) << (8 * UInt64(position % 8))
            position += 1
        }
        self.init(limbs: limbs)
    }

    static let zero = BigUInt()
    static let one = BigUInt(1)

    var isZero: Bool { limbs.isEmpty }
    var isOdd: Bool { (limbs.first ?? 0) & 1 == 1 }

    /// The number of significant bits: 0 for zero, 1 for one, 2048 for a 2048-bit modulus.
    var bitWidth: Int {
        guard let top = limbs.last else { return 0 }
        return limbs.count * 64 - top.leadingZeroBitCount
    }

    /// Bit `index`, counting from the least significant bit as 0.
    func bit(_ index: Int) -> Bool { bitValue(index) == 1 }

    /// Bit `index` as 0 or 1, for arithmetic that should not branch on it.
    func bitValue(_ index: Int) -> UInt64 {
        let limb = index / 64
        guard index >= 0, limb < limbs.count else { return 0 }
        return (limbs[limb] >> UInt64(index % 64)) & 1
    }

    /// Minimal big-endian bytes (none for zero).
    var bigEndianBytes: [UInt8] {
        bigEndianBytes(count: (bitWidth + 7) / 8) ?? []
    }

    /// Big-endian bytes left-padded with zeros to exactly `count` bytes (RFC 8017 I2OSP), or nil
    /// when the value needs more.
    func bigEndianBytes(count: Int) -> [UInt8]? {
        guard count >= 0, (bitWidth + 7) / 8 <= count else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        for position in 0..<min(count, limbs.count * 8) {
            bytes[count - 1 - position] = UInt8(truncatingIfNeeded: limbs[position / 8] >> (8 * UInt64(position % 8)))
        }
        return bytes
    }

    var description: String { "0x" + (isZero ? "0" : bigEndianBytes.hexString) }

    private mutating func normalize() {
        while let top = limbs.last, top == 0 { limbs.removeLast() }
    }

    // MARK: Comparison

    /// Normalized limbs make the longer array the larger value.
    static func < (a: BigUInt, b: BigUInt) -> Bool {
        guard a.limbs.count == b.limbs.count else { return a.limbs.count < b.limbs.count }
        for i in stride(from: a.limbs.count - 1, through: 0, by: -1) where a.limbs[i] != b.limbs[i] {
            return a.limbs[i] < b.limbs[i]
        }
        return false
    }

    // MARK: Addition, subtraction, multiplication

    static func + (a: BigUInt, b: BigUInt) -> BigUInt {
        let (long, short) = a.limbs.count >= b.limbs.count ? (a.limbs, b.limbs) : (b.limbs, a.limbs)
        var sum = long
        sum.append(0)
        var carry: UInt64 = 0
        for i in 0..<long.count {
            let (partial, overflow1) = sum[i].addingReportingOverflow(i < short.count ? short[i] : 0)
            let (total, overflow2) = partial.addingReportingOverflow(carry)
            sum[i] = total
            carry = (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0)
        }
        sum[long.count] = carry
        return BigUInt(limbs: sum)
    }

    /// Traps when `b > a`: callers compare first.
    static func - (a: BigUInt, b: BigUInt) -> BigUInt {
        precondition(a >= b, "BigUInt subtraction would go below zero")
        var difference = a.limbs
        var borrow: UInt64 = 0
        for i in 0..<difference.count {
            let (partial, overflow1) = difference[i].subtractingReportingOverflow(i < b.limbs.count ? b.limbs[i] : 0)
            let (total, overflow2) = partial.subtractingReportingOverflow(borrow)
            difference[i] = total
            borrow = (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0)
        }
        return BigUInt(limbs: difference)
    }

    /// Schoolbook multiplication; RSA only multiplies a few times per signature outside modexp.
    static func * (a: BigUInt, b: BigUInt) -> BigUInt {
        if a.isZero || b.isZero { return .zero }
        var product = [UInt64](repeating: 0, count: a.limbs.count + b.limbs.count)
        for i in 0..<a.limbs.count {
            var carry: UInt64 = 0
            for j in 0..<b.limbs.count {
                let (high, low) = a.limbs[i].multipliedFullWidth(by: b.limbs[j])
                let (partial, overflow1) = low.addingReportingOverflow(product[i + j])
                let (total, overflow2) = partial.addingReportingOverflow(carry)
                product[i + j] = total
                // high ≤ 2^64 - 2, so adding both carries cannot overflow.
                carry = high &+ (overflow1 ? 1 : 0) &+ (overflow2 ? 1 : 0)
            }
            product[i + b.limbs.count] = carry
        }
        return BigUInt(limbs: product)
    }

    // MARK: Division

    /// Quotient and remainder (Knuth, TAOCP vol. 2, §4.3.1, Algorithm D). Traps on a zero divisor.
    func quotientAndRemainder(dividingBy divisor: BigUInt) -> (quotient: BigUInt, remainder: BigUInt) {
        precondition(!divisor.isZero, "BigUInt division by zero")
        if self < divisor { return (.zero, self) }
        if divisor.limbs.count == 1 {
            let (quotient, remainder) = Self.divide(limbs, bySingleLimb: divisor.limbs[0])
            return (BigUInt(limbs: quotient), BigUInt(remainder))
        }

        let n = divisor.limbs.count
        let m = limbs.count - n
        // D1: shift both so the divisor's top bit is set, which keeps each quotient estimate at most 2 too large.
        let shift = UInt64(divisor.limbs[n - 1].leadingZeroBitCount)
        let v = Self.shiftedLeft(divisor.limbs, by: shift, extraLimb: false)
        var u = Self.shiftedLeft(limbs, by: shift, extraLimb: true)
        var quotient = [UInt64](repeating: 0, count: m + 1)
        let vTop = v[n - 1], vNext = v[n - 2]

        for j in stride(from: m, through: 0, by: -1) {
            // D3: estimate the quotient digit from the top two limbs of the current remainder.
            var qHat: UInt64
            var rHat: UInt64
            var rHatOverflowed: Bool
            if u[j + n] >= vTop {
                // Only equality is possible here; the true digit is then at most 2^64 - 1.
                qHat = .max
                (rHat, rHatOverflowed) = u[j + n - 1].addingReportingOverflow(vTop)
            } else {
                (qHat, rHat) = vTop.dividingFullWidth((u[j + n], u[j + n - 1]))
                rHatOverflowed = false
            }
            // Correct the estimate with the next divisor limb; once rHat ≥ 2^64 the test cannot fail.
            while !rHatOverflowed {
                let (productHigh, productLow) = qHat.multipliedFullWidth(by: vNext)
                guard productHigh > rHat || (productHigh == rHat && productLow > u[j + n - 2]) else { break }
                qHat -= 1
                (rHat, rHatOverflowed) = rHat.addingReportingOverflow(vTop)
            }

            // D4: subtract qHat × v from u[j...j+n].
            var borrow: UInt64 = 0
            var carry: UInt64 = 0
            for i in 0..<n {
                let (high, low) = qHat.multipliedFullWidth(by: v[i])
                let (productLow, carryOverflow) = low.addingReportingOverflow(carry)
                carry = high &+ (carryOverflow ? 1 : 0)
                let (partial, overflow1) = u[i + j].subtractingReportingOverflow(productLow)
                let (total, overflow2) = partial.subtractingReportingOverflow(borrow)
                u[i + j] = total
                borrow = (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0)
            }
            let (partial, overflow1) = u[j + n].subtractingReportingOverflow(carry)
            let (total, overflow2) = partial.subtractingReportingOverflow(borrow)
            u[j + n] = total

            // D6: the estimate was one too large (rare); add v back.
            if overflow1 || overflow2 {
                qHat -= 1
                var addCarry: UInt64 = 0
                for i in 0..<n {
                    let (sum1, o1) = u[i + j].addingReportingOverflow(v[i])
                    let (sum2, o2) = sum1.addingReportingOverflow(addCarry)
                    u[i + j] = sum2
                    addCarry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
                }
                u[j + n] = u[j + n] &+ addCarry
            }
            quotient[j] = qHat
        }

        // D8: the remainder is the low n limbs of u, shifted back.
        var remainder = [UInt64](repeating: 0, count: n)
        for i in 0..<n {
            remainder[i] = shift == 0 ? u[i] : (u[i] >> shift) | (u[i + 1] << (64 - shift))
        }
        return (BigUInt(limbs: quotient), BigUInt(limbs: remainder))
    }

    static func % (a: BigUInt, b: BigUInt) -> BigUInt { a.quotientAndRemainder(dividingBy: b).remainder }
    static func / (a: BigUInt, b: BigUInt) -> BigUInt { a.quotientAndRemainder(dividingBy: b).quotient }

    private static func divide(_ limbs: [UInt64], bySingleLimb divisor: UInt64) -> ([UInt64], UInt64) {
        var quotient = [UInt64](repeating: 0, count: limbs.count)
        var remainder: UInt64 = 0
        for i in stride(from: limbs.count - 1, through: 0, by: -1) {
            // remainder < divisor, so the two-limb quotient always fits one limb.
            (quotient[i], remainder) = divisor.dividingFullWidth((remainder, limbs[i]))
        }
        return (quotient, remainder)
    }

    /// `limbs << shift` for shift < 64, optionally with one more limb for the bits shifted out.
    private static func shiftedLeft(_ limbs: [UInt64], by shift: UInt64, extraLimb: Bool) -> [UInt64] {
        var result = [UInt64](repeating: 0, count: limbs.count + (extraLimb ? 1 : 0))
        var carried: UInt64 = 0
        for i in 0..<limbs.count {
            result[i] = (limbs[i] << shift) | carried
            carried = shift == 0 ? 0 : limbs[i] >> (64 - shift)
        }
        if extraLimb { result[limbs.count] = carried }
        return result
    }

    // MARK: Modular exponentiation

    /// `self^exponent mod modulus`. Odd moduli (every RSA modulus and prime) go through Montgomery
    /// multiplication; even ones through plain square-and-multiply with division. Traps on a zero modulus.
    func power(_ exponent: BigUInt, modulus: BigUInt) -> BigUInt {
        if let montgomery = MontgomeryModulus(modulus) {
            return montgomery.power(self, exponent)
        }
        precondition(!modulus.isZero, "BigUInt modular exponentiation with a zero modulus")
        var result = BigUInt.one % modulus
        var base = self % modulus
        for index in 0..<exponent.bitWidth {
            if exponent.bit(index) { result = (result * base) % modulus }
            base = (base * base) % modulus
        }
        return result
    }
}

/// An odd modulus prepared for Montgomery multiplication (R = 2^(64·k) for k limbs), reusable
/// across exponentiations so the R² mod n division is paid once per key.
struct MontgomeryModulus: Sendable {
    let modulus: BigUInt
    private let limbCount: Int
    /// -n⁻¹ mod 2^64.
    private let inverseNegated: UInt64
    /// R² mod n: one Montgomery product with it moves a value into Montgomery form.
    private let rSquared: [UInt64]

    /// Nil for an even (or zero) modulus, which has no Montgomery form.
    init?(_ modulus: BigUInt) {
        guard modulus.isOdd else { return nil }
        self.modulus = modulus
        limbCount = modulus.limbs.count

        // Newton's iteration doubles the number of correct low bits each step: 1 → 2 → … → 64
        // (x = n is already correct to 3 bits for odd n, so five steps suffice; six are harmless).
        let n0 = modulus.limbs[0]
        var inverse: UInt64 = n0
        for _ in 0..<6 { inverse = inverse &* (2 &- n0 &* inverse) }
        inverseNegated = 0 &- inverse

        var rSquaredValue = [UInt64](repeating: 0, count: 2 * limbCount + 1)
        rSquaredValue[2 * limbCount] = 1
        let reduced = BigUInt(limbs: rSquaredValue) % modulus
        rSquared = Self.padded(reduced, to: limbCount)
    }

    /// `base^exponent mod n` with a fixed 4-bit window. Every window does the same squarings and
    /// one multiplication, and the table entry is picked by scanning all sixteen, so neither the
    /// exponent's bits nor their pattern steer branches or memory addresses. The exponent's bit
    /// width is not hidden: CRT exponents are as wide as their primes anyway.
    func power(_ base: BigUInt, _ exponent: BigUInt) -> BigUInt {
        let k = limbCount
        let windowBits = 4
        let tableSize = 1 << windowBits
        let reducedBase = base < modulus ? base : base % modulus

        // One allocation, cut into: n | R² mod n | plain 1 | base | table of 16 | accumulator | selected | scratch.
        var workspace = modulus.limbs + rSquared + Self.padded(.one, to: k) + Self.padded(reducedBase, to: k)
        workspace += [UInt64](repeating: 0, count: (tableSize + 3) * k + 1)
        workspace.withUnsafeMutableBufferPointer { buffer in
            let n = buffer.baseAddress!
            let r2 = n + k, unit = n + 2 * k, x = n + 3 * k, table = n + 4 * k
            let acc = table + tableSize * k, selected = acc + k, scratch = selected + k
            let q = inverseNegated

            // table[0] = R mod n (Montgomery one), table[1] = base·R mod n, table[i] = table[i-1]·table[1].
            Self.multiply(unit, r2, n, k, q, scratch, table)
            Self.multiply(x, r2, n, k, q, scratch, table + k)
            for entry in 2..<tableSize {
                Self.multiply(table + (entry - 1) * k, table + k, n, k, q, scratch, table + entry * k)
            }

            acc.update(from: table, count: k)
            var window = (exponent.bitWidth + windowBits - 1) / windowBits
            while window > 0 {
                window -= 1
                for _ in 0..<windowBits { Self.multiply(acc, acc, n, k, q, scratch, acc) }
                var index: UInt64 = 0
                for bit in 0..<windowBits {
                    index |= exponent.bitValue(window * windowBits + bit) << UInt64(bit)
                }
                // Constant-address lookup: read every entry, keep the one whose mask is all ones.
                selected.update(repeating: 0, count: k)
                for entry in 0..<tableSize {
                    let difference = UInt64(truncatingIfNeeded: entry) ^ index
                    let mask = ((difference | (0 &- difference)) >> 63) &- 1
                    let row = table + entry * k
                    var limb = 0
                    while limb < k {
                        selected[limb] |= row[limb] & mask
                        limb &+= 1
                    }
                }
                Self.multiply(acc, selected, n, k, q, scratch, acc)
            }
            // Multiplying by plain 1 leaves Montgomery form.
            Self.multiply(acc, unit, n, k, q, scratch, acc)
        }
        let resultStart = (4 + tableSize) * k
        return BigUInt(limbs: Array(workspace[resultStart..<(resultStart + k)]))
    }

    /// result = a·b·R⁻¹ mod n, with a, b < n (Montgomery multiplication, FIOS: each pass adds
    /// a[i]·b and m·n in one sweep and shifts down a limb). `t` is scratch of k + 1 limbs;
    /// `result` may alias `a` or `b`. The final subtraction is always done and kept by mask.
    ///
    /// Written for debug builds too, which the tests run: while loops rather than range iterators,
    /// one sweep rather than two, and carries turned into 0 or 1 by reinterpreting the Bool's byte,
    /// because `flag ? 1 : 0` compiles to a jump that mispredicts on every other carry.
    private static func multiply(_ a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>,
                                 _ n: UnsafePointer<UInt64>, _ k: Int, _ inverseNegated: UInt64,
                                 _ t: UnsafeMutablePointer<UInt64>, _ result: UnsafeMutablePointer<UInt64>) {
        t.initialize(repeating: 0, count: k + 1)
        let b0 = b[0], n0 = n[0]
        var i = 0
        while i < k {
            let ai = a[i]
            // Limb 0 decides m so that t + a[i]·b + m·n is divisible by 2^64.
            let (productHigh0, productLow0) = ai.multipliedFullWidth(by: b0)
            let (sum0, overflow0) = productLow0.addingReportingOverflow(t[0])
            var productCarry = productHigh0 &+ UInt64(unsafeBitCast(overflow0, to: UInt8.self))
            let m = sum0 &* inverseNegated
            let (reductionHigh0, reductionLow0) = m.multipliedFullWidth(by: n0)
            let (_, reductionOverflow0) = reductionLow0.addingReportingOverflow(sum0)
            var reductionCarry = reductionHigh0 &+ UInt64(unsafeBitCast(reductionOverflow0, to: UInt8.self))

            var j = 1
            while j < k {
                // Each carry stays below 2^64: (2^64-1)² + 2(2^64-1) = 2^128 - 1.
                let (productHigh, productLow) = ai.multipliedFullWidth(by: b[j])
                let (partial1, o1) = productLow.addingReportingOverflow(t[j])
                let (partial2, o2) = partial1.addingReportingOverflow(productCarry)
                productCarry = productHigh &+ UInt64(unsafeBitCast(o1, to: UInt8.self))
                    &+ UInt64(unsafeBitCast(o2, to: UInt8.self))
                let (reductionHigh, reductionLow) = m.multipliedFullWidth(by: n[j])
                let (sum1, o3) = reductionLow.addingReportingOverflow(partial2)
                let (sum2, o4) = sum1.addingReportingOverflow(reductionCarry)
                reductionCarry = reductionHigh &+ UInt64(unsafeBitCast(o3, to: UInt8.self))
                    &+ UInt64(unsafeBitCast(o4, to: UInt8.self))
                t[j &- 1] = sum2
                j &+= 1
            }
            // The running value stays below 2n, so the top fits one limb plus one bit in t[k].
            let (top1, o5) = t[k].addingReportingOverflow(productCarry)
            let (top2, o6) = top1.addingReportingOverflow(reductionCarry)
            t[k &- 1] = top2
            t[k] = UInt64(unsafeBitCast(o5, to: UInt8.self)) &+ UInt64(unsafeBitCast(o6, to: UInt8.self))
            i &+= 1
        }

        // t < 2n: compute t - n into result, then keep t instead if that borrowed past t's top limb.
        var borrow: UInt64 = 0
        var j = 0
        while j < k {
            let (d1, o1) = t[j].subtractingReportingOverflow(n[j])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            result[j] = d2
            borrow = UInt64(unsafeBitCast(o1, to: UInt8.self)) &+ UInt64(unsafeBitCast(o2, to: UInt8.self))
            j &+= 1
        }
        let keepOriginal = 0 &- ((borrow & ~t[k]) & 1)
        j = 0
        while j < k {
            result[j] = (result[j] & ~keepOriginal) | (t[j] & keepOriginal)
            j &+= 1
        }
    }

    private static func padded(_ value: BigUInt, to count: Int) -> [UInt64] {
        var limbs = value.limbs
        limbs.append(contentsOf: repeatElement(0, count: max(0, count - limbs.count)))
        return limbs
    }
}
